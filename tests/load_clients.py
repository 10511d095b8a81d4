"""Concurrent clients of the draw-a-digit server: test_serve.py's load, benchmarks/predict.py."""

import http.client
import json
import time
from concurrent.futures import ThreadPoolExecutor


def post_concurrently(
    address: tuple[str, int], bodies: list[bytes], requests: int, clients: int, timeout: float
) -> list[tuple[int, float]]:
    """``clients`` threads, each on one connection, POST their share of ``requests`` pictures
    to /predict, cycling through ``bodies``: the status and seconds of every JSON answer."""

    def client(number: int) -> list[tuple[int, float]]:
        connection, answers = http.client.HTTPConnection(*address, timeout=timeout), []
        try:
            for i in range(requests // clients):
                started = time.perf_counter()
                connection.request("POST", "/predict", body=bodies[(number + i) % len(bodies)])
                response = connection.getresponse()
                json.loads(response.read())
                answers.append((response.status, time.perf_counter() - started))
        finally:
            connection.close()
        return answers

    with ThreadPoolExecutor(clients) as pool:
        return [answer for found in pool.map(client, range(clients)) for answer in found]
