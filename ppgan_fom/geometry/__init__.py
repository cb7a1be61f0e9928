"""Image geometry in pure numpy/cv2 (no Paddle): boxes, square crops, paste-back.

One home for every box and crop computation, used by detection (``faceutils``), tracking,
the driving-video crop and the compositor.
"""

from .boxes import (DEFAULT_MARGIN, box_iou, box_to_params, dedupe_boxes, dedupe_by_score,
                    face_crop_boxes, iou_matrix, order_by_area, params_to_box, square_box)
from .crop import box_side, crop_square, resize_square
from .paste import (DEFAULT_FEATHER, FACE_BOX_HALF_DIAGONAL, match_color, opaque_core_radius,
                    paste_faces, paste_mask, paste_order)

__all__ = ["DEFAULT_MARGIN", "box_iou", "box_to_params", "dedupe_boxes", "dedupe_by_score",
           "face_crop_boxes", "iou_matrix", "order_by_area", "params_to_box", "square_box",
           "box_side", "crop_square", "resize_square", "DEFAULT_FEATHER",
           "FACE_BOX_HALF_DIAGONAL", "match_color", "opaque_core_radius", "paste_faces", "paste_mask",
           "paste_order"]
