"""Where the heavy per-item work runs: in this process (the embedded default) or on a Ray cluster.

Documents to text, entity extraction and embeddings each have a local way (a process pool, or the model in
this process) and a Ray way built on :class:`lake.ray_pool.ActorPool`. Which one a run takes is the
``CASELAKE_RAY_ADDRESS`` setting (:class:`lake.settings.ComputeSettings`); the results, the Delta commits and
the accounting are the same either way: workers return results, and this process alone writes the tables.

This package chooses for the capabilities, so it sits above them (documents, entities, embedding) and only the
assets call it. The actor pool it shares with :mod:`lake.documents.on_ray` is a leaf of its own,
:mod:`lake.ray_pool`, which knows nothing of what its actors run.
"""
