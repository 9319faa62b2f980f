package commands

import "context"

// workflowRefKey is the context key of the advisory workflow reference.
type workflowRefKey struct{}

// WithWorkflowRef returns ctx carrying a client's advisory workflow
// reference (the S3 header x-annal-workflow-ref) exactly as received.
// It is advisory: no command may change its outcome because of it.
func WithWorkflowRef(ctx context.Context, ref string) context.Context {
	return context.WithValue(ctx, workflowRefKey{}, ref)
}

// WorkflowRef returns the workflow reference ctx carries, if any.
func WorkflowRef(ctx context.Context) (string, bool) {
	ref, ok := ctx.Value(workflowRefKey{}).(string)
	return ref, ok
}
