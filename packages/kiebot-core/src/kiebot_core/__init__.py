"""kiebot core: the pure domain, the ports and the use cases every shell composes."""
