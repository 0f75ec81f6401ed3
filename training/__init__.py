"""poseeditor-train: datasets in, engine weights out. Imports engine/, never Qt."""
