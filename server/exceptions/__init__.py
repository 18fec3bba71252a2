"""The store's exception queue: conflicts kept for the manager with the money movements that fix them."""
