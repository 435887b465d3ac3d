"""The code location's one ``Definitions`` object, loaded through ``workspace.yaml``."""

import dagster as dg

defs = dg.Definitions()
