"""spdl: load images, audio and video into arrays, fast enough that the GPU never waits."""
