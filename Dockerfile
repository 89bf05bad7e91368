# One image for every Omnigate process. A container picks its process by its
# command: omnigate-edge, omnigate-webhooks, omnigate-sms, omnigate-sms-worker,
# omnigate-devsmsc (development SMSC), omnigate-admin (operator CLI).
# Every setting comes from OMNIGATE_* environment variables (deploy/kubernetes/).
#
#   docker build -t omnigate:0.1.0 .
#
# Pin the base by digest in your build if you want reproducible images:
#   docker build --build-arg PYTHON_IMAGE=python:3.11-slim@sha256:... .
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# A virtualenv at the path it keeps in the final image, so its scripts' shebangs hold.
RUN python -m venv /opt/omnigate
WORKDIR /src
# Every dependency ships manylinux wheels for CPython 3.11: no compiler needed.
# Each is pinned in the lock with its hashes, pip and setuptools too (`make lock`).
COPY requirements/runtime.lock ./requirements/
RUN /opt/omnigate/bin/pip install --no-compile --require-hashes -r requirements/runtime.lock
COPY pyproject.toml README.md ./
COPY libs ./libs
COPY services ./services
# The project itself adds nothing to the lock: no dependencies, the locked setuptools builds it.
RUN /opt/omnigate/bin/pip install --no-compile --no-deps --no-build-isolation . \
    && /opt/omnigate/bin/python -m compileall -q /opt/omnigate/lib

FROM ${PYTHON_IMAGE}
RUN groupadd --system --gid 10001 omnigate \
    && useradd --system --uid 10001 --gid omnigate --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin omnigate
COPY --from=build /opt/omnigate /opt/omnigate
ENV PATH=/opt/omnigate/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
# Numeric, so that Kubernetes' runAsNonRoot can verify it.
USER 10001:10001
