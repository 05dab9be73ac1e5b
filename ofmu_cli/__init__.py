"""The ``ofmu`` command, above every other package (ofmu_theory/ never imports it): see :mod:`ofmu_cli.main`."""
