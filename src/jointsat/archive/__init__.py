"""Archive downlinked products: blobs on disk, their catalogue (STAC), and who may see them."""
