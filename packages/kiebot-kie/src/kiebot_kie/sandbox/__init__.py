"""The KIE sandbox: an emulator of the KIE API on loopback (see ``sandbox.server``)."""
