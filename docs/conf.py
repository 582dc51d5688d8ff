"""Sphinx configuration: the Markdown pages (myst-parser) and the API from docstrings."""

project = "optiframe"
author = "optiframe developers"
extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx.ext.napoleon"]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "README.md"]
myst_heading_anchors = 3
napoleon_google_docstring = False
napoleon_numpy_docstring = True
autodoc_member_order = "bysource"
autodoc_typehints = "none"
html_theme = "alabaster"
nitpicky = False
