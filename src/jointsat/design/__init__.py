"""Design a mission: constellations, areas of interest, equal-area grids and their coverage."""
