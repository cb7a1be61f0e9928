"""ppgan-fom: First Order Motion Model in PaddlePaddle."""
