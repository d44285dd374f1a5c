"""The gray-box previz: camera paths and easing, the rasterizer of the set and the cast, the depth map."""
