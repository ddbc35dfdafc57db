"""The KIE.ai adapter: client, gateway and the loopback sandbox (issue: the KIE adapter)."""
