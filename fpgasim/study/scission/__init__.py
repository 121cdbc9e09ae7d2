"""The ScissionLite study: split a network between a device and an edge, with a transfer layer."""
