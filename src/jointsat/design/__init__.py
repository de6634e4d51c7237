"""Mission design: coverage and revisit of candidate constellations over areas."""
