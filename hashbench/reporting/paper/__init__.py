"""The DMRH paper's published numbers, kept as data for `hashbench table --compare-paper`."""
