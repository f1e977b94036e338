"""The checkpoints room: a run's checkpoints listed, exported and chosen, compared in a grid, scored for likeness.

- store: list checkpoints, read their zips safely, export the publishable adapter, choose one (`Chosen`)
- compare: the comparison grid (checkpoint x prompt x strength x seed, plus the base row)
- likeness: DINOv2 likeness of an image to the dataset
- similarity: SSIM between two images
"""

__all__ = ["store", "compare", "likeness", "similarity"]
