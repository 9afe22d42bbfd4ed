"""The repository's own tools: the papermill build behind ``make build`` (:mod:`build`) and
the lesson list, Colab badges and setup cell (:mod:`course`). Used from a checkout; a
student's Colab installs the package without them."""
