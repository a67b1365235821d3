"""HTTP backends: the only code that talks to the network."""
