"""What the classic (non-deep) methods share: centring, scaling and principal directions."""
