"""labelwise.assign: turn coarse labels into training targets (vision): segmentation masks into alpha mattes
(ZIM's label converter and classical baselines, MLB's matte label blending), with the matting metrics. Algorithm
floor (arrays in and out); torch is imported only by the modules and functions that train networks."""
