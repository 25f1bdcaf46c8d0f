"""Know your data: commands that answer questions about JWST products.

``webbcal refs``, ``inspect``, ``cite``, ``cache`` and ``quicklook`` (each module
has a ``main(argv) -> int`` called by :mod:`webbcal.cli`). The reports are also
available as functions returning plain data:

* :func:`webbcal.tools.inspect.inspect_product`
* :func:`webbcal.tools.refs.reference_report`
* :func:`webbcal.tools.cite.citation`
* :func:`webbcal.tools.cache.verify_cache`
* :func:`webbcal.tools.quicklook.render_image`, :func:`~webbcal.tools.quicklook.render_pixel`

The rules they apply (minimum in-flight CRDS contexts, known issues) are JSON
tables in ``webbcal/data`` that name their JDox source.
"""

from webbcal.tools.product import Product, ProductError, read_product

__all__ = ["Product", "ProductError", "read_product"]
