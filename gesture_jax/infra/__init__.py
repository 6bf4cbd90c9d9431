"""Infrastructure every layer may use: storage (local or bucket paths, atomic writes, logging), processes
and meshes (`parallel`), and Orbax checkpoints. It imports nothing else from gesture_jax."""
