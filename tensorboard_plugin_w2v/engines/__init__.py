"""Engines that answer queries on a model: in this process (``local``) or in Milvus (``milvus``).

:class:`serving.Engines` is the one seam: given a model version it hands out a
:class:`local.LocalModel` or, when ``--word2vec_milvus_uri`` is set and the version was pushed,
a :class:`milvus.MilvusModel`; both answer the same methods (``neighbors``, ``analogy``,
``similarity``, ``doesnt_match``, ``vocab``, ``vector``, ``project``, ``counts``,
``vectors_of``, ``whole``). pymilvus is imported only when the flag is set.
"""

ENGINE_LOCAL = "local"
ENGINE_MILVUS = "milvus"
# Where a whole-matrix route (evaluation, comparison) read its vectors from.
VECTORS_LOCAL = "local"  # a model served by this process
VECTORS_MILVUS = "milvus"  # read from Milvus in batches into a bounded buffer
VECTORS_LOCAL_FILE = "local file"  # a pushed model's own file (Milvus could not, or the buffer would not fit)
