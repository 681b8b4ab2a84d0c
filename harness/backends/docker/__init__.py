"""The local Docker backend: engine start-up, the lab image, containers, and the run itself."""
