"""The ``eegbench`` command line: subcommands, their help and the main job's verdict."""
