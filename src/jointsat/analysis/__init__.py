"""Post-launch interpretation: the archive's products turned into results (docs/analysis.md).

- ``lightcurves`` reads photometry (Kepler/TESS/CHEOPS-style FITS, CSV) into a
  ``photometry.LightCurve``; ``transits`` detrends it and searches for transits (TLS,
  BLS); ``transit_plots`` draws a search as a PNG.
- ``optical`` reads multispectral products (MUSCATE L2A, GeoTIFF, STAC items) over an
  area; ``ndvi`` turns them into an NDVI time series; ``venus_like`` builds VENuS-like
  MUSCATE products from a real Sentinel-2 tile for the demo and the tests.
- ``registry`` names the pipelines, their versions, parameters and product kinds.
"""
