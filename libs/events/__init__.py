"""The one envelope of tenant-visible facts (``envelope``), the catalogue of their types
(``catalog``), and their CloudEvents form (``cloudevents``)."""
