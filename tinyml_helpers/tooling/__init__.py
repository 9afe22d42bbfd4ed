"""The repository's own tools, used from a checkout; a student's Colab installs the package
without them.

* :mod:`course` — the lesson list and what every notebook shares: Colab badge, setup cell;
* :mod:`paths` — the checkout's folders (vendored sources, the TFLM cache) for the deploy core;
* :mod:`build` — the papermill build behind ``make build``, and the projects regenerated.
"""
