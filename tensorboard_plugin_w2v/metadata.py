"""Names and constants shared by the plugin, the writers and the tab."""

PLUGIN_NAME = "word2vec"
TAB_NAME = "Word2Vec"

# Per-run folder for this plugin's files, as TensorBoard lays out plugin assets.
PLUGINS_DIR = "plugins"
PLUGIN_DIR = f"{PLUGINS_DIR}/{PLUGIN_NAME}"
MANIFEST_NAME = "manifest.json"
MANIFEST_PATH = f"{PLUGIN_DIR}/{MANIFEST_NAME}"
MANIFEST_VERSION = 1

PROJECTOR_CONFIG_NAME = "projector_config.pbtxt"
PROJECTOR_POINT_LIMIT = 100_000  # the Projector page loads the first 100,000 points only
DEFAULT_EXPORT_N = 1000  # neighbours of the word sent to the Projector unless told otherwise

# Caps on what one request may ask for (documented in docs/http_api.md).
DEFAULT_K = 10
MAX_K = 1000
DEFAULT_VOCAB_LIMIT = 50
MAX_VOCAB_LIMIT = 1000
MAX_QUERY_WORDS = 100
MAX_PROJECT_WORDS = 5000

# --word2vec_mmap: which logdir files gensim may memory-map (see models.loading.may_memory_map).
MMAP_AUTO = "auto"
MMAP_ALWAYS = "always"
MMAP_NEVER = "never"
MMAP_POLICIES = (MMAP_AUTO, MMAP_ALWAYS, MMAP_NEVER)

# Format names reported in the listing.
FORMAT_GENSIM_WORD2VEC = "gensim-word2vec"
FORMAT_GENSIM_FASTTEXT = "gensim-fasttext"
FORMAT_GENSIM_KEYEDVECTORS = "gensim-keyedvectors"
FORMAT_WORD2VEC_BINARY = "word2vec-binary"
FORMAT_WORD2VEC_TEXT = "word2vec-text"
FORMAT_FASTTEXT_VEC = "fasttext-vec"
FORMAT_FASTTEXT_BIN = "fasttext-bin"
FORMAT_GLOVE_TEXT = "glove-text"
FORMAT_PROJECTOR_TSV = "projector-tsv"
FORMAT_PROJECTOR_RAW = "projector-raw-float32"

GENSIM_NATIVE_FORMATS = frozenset(
    {FORMAT_GENSIM_WORD2VEC, FORMAT_GENSIM_FASTTEXT, FORMAT_GENSIM_KEYEDVECTORS}
)
# Formats that are Python pickles: refused under --word2vec_no_pickle.
PICKLE_FORMATS = GENSIM_NATIVE_FORMATS

# gensim training parameters reported in the listing when a full model file has them.
TRAINING_ATTRIBUTES = (
    "sg",
    "hs",
    "negative",
    "window",
    "epochs",
    "vector_size",
    "min_count",
    "sample",
    "alpha",
    "min_alpha",
    "cbow_mean",
    "ns_exponent",
    "max_vocab_size",
    "corpus_count",
    "corpus_total_words",
    "min_n",
    "max_n",
    "bucket",
)
