"""The file layer: reading and writing local or remote files, sniffing formats, run manifests."""
