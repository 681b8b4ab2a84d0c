# The lab image: the Flask lab app (labapp/, installed as harness.lab), one image for every
# scenario, served by gunicorn (the default command below), uWSGI (pyuwsgi) or uvicorn as
# the scenario says.
#
# From a clone, where a registry answers:
#   docker build -t oom-harness/labapp .
# With no registry, give it a local Python base and the lab's wheels in wheels/ (downloaded
# on the host: pip download -r labapp/requirements.txt -d wheels):
#   docker build --build-arg BASE_IMAGE=oom-harness/python-base:3.11 -t oom-harness/labapp .
# `harness setup` does the second itself, from the installed package: it lays out the same
# tree (Dockerfile, labapp/, harness/cgroupfs.py, wheels/) in a temporary folder.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH
WORKDIR /app

# requirements.txt always matches; wheel[s] matches only where a wheels/ folder exists.
COPY labapp/requirements.txt wheel[s] /app/build/
# Wheels present (offline path): install from them only. Absent: install from the index.
RUN python3 -m venv /opt/venv \
 && if ls /app/build/*.whl >/dev/null 2>&1; then \
        pip install --no-cache-dir --no-index --find-links /app/build -r /app/build/requirements.txt; \
    else \
        pip install --no-cache-dir -r /app/build/requirements.txt; \
    fi \
 && rm -rf /app/build

# Only the lab and the one harness module it shares; the harness itself is not in the image.
COPY labapp/*.py /app/harness/lab/
COPY harness/cgroupfs.py /app/harness/cgroupfs.py
RUN echo '"""The lab image: harness.lab and harness.cgroupfs, not the harness itself."""' > /app/harness/__init__.py

EXPOSE 8080
CMD ["gunicorn", "--bind", "0.0.0.0:8080", "--workers", "1", "--worker-class", "gthread", \
     "--threads", "4", "--timeout", "120", "harness.lab.app:app"]
