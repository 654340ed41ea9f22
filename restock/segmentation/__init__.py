"""Segmentation of customers and products.

Pure rules (no I/O): :mod:`.customers` (RFM, lifecycle, segment ids) and
:mod:`.product_classes` (ABC, XYZ, demand classes). :mod:`.tables` reads the marts of
a day, applies them and writes ``analytics.customer_segments`` / ``product_classes``.
"""
