"""Documents to text: the manifest, the worker pool, text per format (docling, LibreOffice, pypdfium2, EasyOCR)."""
