"""The file layer: local or remote files and atomic writes, format sniffing, run manifests,
the default cache folder."""
