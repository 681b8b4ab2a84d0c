# The lab image: Flask + gunicorn lab app (labapp/), one image for every scenario.
#
# Online:  docker build -t oom-harness/labapp .
# Offline: `harness image build` makes a local Debian base (debootstrap + docker import),
#          downloads the wheels into labapp/wheels on the host and passes BASE_IMAGE.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH
WORKDIR /app

COPY labapp/requirements.txt /app/requirements.txt
COPY labapp/wheels/ /app/wheels/
# Wheels present (offline path): install from them only. Absent: install from the index.
RUN python3 -m venv /opt/venv \
 && if ls /app/wheels/*.whl >/dev/null 2>&1; then \
        pip install --no-cache-dir --no-index --find-links /app/wheels -r /app/requirements.txt; \
    else \
        pip install --no-cache-dir -r /app/requirements.txt; \
    fi \
 && rm -rf /app/wheels

COPY labapp/*.py /app/labapp/

EXPOSE 8080
CMD ["gunicorn", "--bind", "0.0.0.0:8080", "--workers", "1", "--worker-class", "gthread", \
     "--threads", "4", "--timeout", "120", "labapp.app:app"]
