"""The ``cockpit`` command line: the headless contract scripts, tests and orchestrators rely on."""
