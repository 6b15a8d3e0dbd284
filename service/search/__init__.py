"""Search over what Valossa found: detections, faces and speech extracted from stored results.

The extracted rows are derived data: rebuilt from the stored bytes at any time (`reindex`),
one transaction per analysis, and only the newest finished analysis of a media is searchable.
"""
