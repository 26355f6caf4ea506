"""The seed scenario's program: plot y = x² and save it where the host can see it."""

import matplotlib

matplotlib.use("Agg")  # no display in a container

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

x = np.arange(-10, 10, 0.01)
plt.plot(x, x**2)
plt.title("y = x²")
plt.savefig("/out/quad.png")
print("wrote /out/quad.png")
