"""The text side: tokenizers in each family's reference form (CLIP's BPE, SigLIP's SentencePiece,
VideoPrism's) and the class prompts (`prompts`) every zero-shot method reads."""
