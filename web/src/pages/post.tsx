import { useEffect, useState } from 'preact/hooks';
import { useRoute } from 'preact-iso';
import { api, problemOf } from '../api/client.ts';
import type { Post, Problem } from '../api/types.ts';
import { useAccount } from '../api/use-account.ts';
import { useI18n } from '../i18n/i18n.tsx';
import { problemMessage } from '../i18n/problem-message.ts';
import { PostCard } from '../posts/post-card.tsx';

/** One post on a page of its own: where a notification and a push lead. */
export default function PostPage() {
  const { t } = useI18n();
  const { restoring } = useAccount();
  const id = useRoute().params.id ?? '';
  const [post, setPost] = useState<Post | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  useEffect(() => {
    // Wait for a kept session, so a followers-only post is asked for as its reader.
    if (restoring) return;
    setPost(null);
    setProblem(null);
    void api
      .GET('/v1/posts/{id}', { params: { path: { id } } })
      .then(({ data, error, response }) => (data !== undefined ? setPost(data) : setProblem(problemOf(error, response))))
      .catch(() => setProblem({ status: 0, code: 'network_error' }));
  }, [id, restoring]);
  return (
    <section class="page">
      <h1>{t('post.pageTitle')}</h1>
      {post !== null && <PostCard post={post} onChange={setPost} />}
      {problem !== null && (
        <p class="error" role="alert">
          {problem.status === 404 ? t('app.notFound') : problemMessage(problem, t)}
        </p>
      )}
      {post === null && problem === null && <p role="status">{t('app.loading')}</p>}
    </section>
  );
}
