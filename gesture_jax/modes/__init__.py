"""Modes: each module here is one kind of run, ``run(config, workdir)``, chosen by ``config.mode``."""
