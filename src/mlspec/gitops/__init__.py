"""The GitOps layer: layout of the tree, engine objects (Argo CD, Flux), publishing."""
