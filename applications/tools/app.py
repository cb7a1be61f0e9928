#!/usr/bin/env python
"""Web app: animate a photo and anonymize a video in the browser.

    python applications/tools/app.py [--host 127.0.0.1] [--port 7860] [--share]

Then open http://127.0.0.1:7860. Takes the model flags of first-order-demo.py (--config
--weight_path --image_size --mobile_net --face_detector --batch_size --cpu ...) and upload
limits (--max_upload_mb, --max_video_seconds). Needs the 'app' extra
(pip install -e ".[app]"). Run with --help for every option; see docs/app.md.
"""

import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

from ppgan_fom.cli.app import app_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(app_main())
