//! Profiles and segmentation (in progress).
