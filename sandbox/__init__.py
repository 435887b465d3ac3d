"""A local emulator of Tempo v4 and Jira Cloud v3 for a source and a destination site; standalone,
it imports none of the product's packages.

Start it with ``uv run tempo-sync sandbox serve`` or, from Python::

    with SandboxServer(SandboxConfig(state_dir=tmp_path)) as sandbox:
        sandbox.urls.source.tempo  # http://127.0.0.1:PORT/source/tempo
"""
