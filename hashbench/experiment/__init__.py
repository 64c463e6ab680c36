"""The experiment layer: the grid runner, its records and their provenance, paper reproductions."""
