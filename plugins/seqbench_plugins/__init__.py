"""Built-in seqbench plugins (package ``seqbench_plugins``): models/ and tasks/, one module per family."""
