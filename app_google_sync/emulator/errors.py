"""Google's JSON error envelope, and the few errors every part of the emulator raises."""

STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    412: "FAILED_PRECONDITION",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}

QUOTA_MESSAGE = (
    "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user' "
    "of service 'admin.googleapis.com' for consumer 'project_number:000000000000'."
)

CONCURRENCY_MESSAGE = (
    "Quota exceeded for quota metric 'Queries' and limit 'Concurrent queries per user' "
    "of service 'admin.googleapis.com' for consumer 'project_number:000000000000'."
)

DEFAULT_MESSAGES = {
    "backendError": "The service is currently unavailable.",
    "internalError": "Internal error encountered.",
    "rateLimitExceeded": "Rate Limit Exceeded",
    "userRateLimitExceeded": QUOTA_MESSAGE,
    "quotaExceeded": QUOTA_MESSAGE,
    "conditionNotMet": "Precondition Failed",
}


class ApiError(Exception):
    """An error answered to the client in Google's JSON error format."""

    def __init__(self, code, reason, message, item_message=None, **extra):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.item_message = item_message or message
        self.extra = extra  # location / locationType, as Google adds for some errors
        self.headers = {}  # answer headers beside the JSON body (Retry-After)

    def body(self):
        item = {"message": self.item_message, "domain": "global", "reason": self.reason}
        item.update(self.extra)
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "errors": [item],
                "status": STATUS_NAMES.get(self.code, "UNKNOWN"),
            }
        }


def invalid(message):
    return ApiError(400, "invalid", message)


def bad_request():
    return ApiError(400, "badRequest", "Bad Request")


def required(field):
    return ApiError(400, "required", "Missing required field: %s" % field)


def not_found(key_name):
    return ApiError(404, "notFound", "Resource Not Found: %s" % key_name)


def duplicate(message="Entity already exists."):
    return ApiError(409, "duplicate", message)


def forbidden():
    return ApiError(403, "forbidden", "Not Authorized to access this resource/api")


def quota_exceeded(status=403):
    """The per-user window is full: 403 userRateLimitExceeded, or its 429 rateLimitExceeded form."""
    if status == 429:
        return ApiError(429, "rateLimitExceeded", QUOTA_MESSAGE)
    return ApiError(403, "userRateLimitExceeded", QUOTA_MESSAGE)


def too_many_concurrent():
    # quotaExceeded, unlike userRateLimitExceeded, is not retried by the client's num_retries.
    return ApiError(403, "quotaExceeded", CONCURRENCY_MESSAGE)


def backend_error():
    return ApiError(503, "backendError", DEFAULT_MESSAGES["backendError"])


def creation_not_complete():
    return ApiError(412, "conditionNotMet", "User creation is not complete.")


def injected(status, reason, retry_after=None):
    error = ApiError(status, reason, DEFAULT_MESSAGES.get(reason, "Injected failure"))
    if retry_after is not None:
        error.headers["Retry-After"] = str(retry_after)
    return error


def unauthenticated():
    return ApiError(
        401,
        "authError",
        "Request had invalid authentication credentials. Expected OAuth 2 access token, "
        "login cookie or other valid authentication credential. "
        "See https://developers.google.com/identity/sign-in/web/devconsole-project.",
        item_message="Invalid Credentials",
        location="Authorization",
        locationType="header",
    )


def insufficient_scopes():
    return ApiError(403, "insufficientPermissions", "Request had insufficient authentication scopes.")


def bad_value(field, type_name, value):
    """The message Google's front end gives when a JSON or query value has the wrong type."""
    return invalid("Invalid value at '%s' (%s), %s" % (field, type_name, value))
