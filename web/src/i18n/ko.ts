import type { Messages } from './en.ts';

/** The Korean catalogue: every key of en.ts, or the type check fails. */
export const ko: Messages = {
  'app.name': 'Plaza',
  'app.skipToContent': '본문으로 건너뛰기',
  'app.loading': '불러오는 중…',
  'app.notFound': '이 주소에는 페이지가 없습니다.',
  'app.notBuilt': '웹 클라이언트의 이 부분은 아직 만들어지지 않았습니다. API는 이미 제공합니다: {docs}를 보세요.',
  'app.apiDocs': 'API 문서',

  'nav.label': '주 메뉴',
  'nav.home': '홈',
  'nav.explore': '메인 페이지',
  'nav.notifications': '알림',
  'nav.memos': '메모',
  'nav.recordings': '녹음',
  'nav.wallet': '지갑',
  'nav.profile': '프로필',
  'nav.settings': '설정',
  'nav.signIn': '로그인',
  'nav.signUp': '가입하기',

  'language.label': '언어',

  'auth.signInTitle': 'Plaza에 로그인',
  'auth.signUpTitle': 'Plaza 계정 만들기',
  'auth.email': '이메일',
  'auth.password': '비밀번호',
  'auth.passwordHint': '8자 이상.',
  'auth.name': '이름',
  'auth.handle': '핸들 (선택)',
  'auth.handleHint': 'a–z, 0–9, _ 로 3~30자. 비워 두면 자동으로 만들어집니다.',
  'auth.signIn': '로그인',
  'auth.signUp': '가입하기',
  'auth.signOut': '로그아웃',
  'auth.orWith': '다른 방법으로 계속하기',
  'auth.withProvider': '{provider}(으)로 계속하기',
  'auth.noAccount': '아직 계정이 없나요?',
  'auth.haveAccount': '이미 계정이 있나요?',
  'auth.returning': '로그인하는 중…',
  'auth.signedInAs': '{name} (@{handle}) 님으로 로그인됨',

  'error.invalid_credentials': '이메일과 비밀번호가 일치하는 계정이 없습니다.',
  'error.email_taken': '이 이메일로 된 계정이 이미 있습니다. 로그인해 주세요.',
  'error.handle_taken': '이미 사용 중인 핸들입니다. 다른 핸들을 써 보세요.',
  'error.invalid_request': '입력한 내용을 확인해 주세요: {detail}',
  'error.rate_limited': '시도가 너무 많습니다. 잠시 후 다시 시도해 주세요.',
  'error.account_exists': '이 이메일로 된 계정이 이미 있습니다. 비밀번호로 로그인한 뒤 설정에서 연결해 주세요.',
  'error.access_denied': '로그인이 취소되었습니다.',
  'error.network_error': 'Plaza에 연결할 수 없습니다. 연결을 확인하고 다시 시도해 주세요.',
  'error.unsupported_media_type': '지원하지 않는 파일 형식입니다.',
  'error.payload_too_large': '파일이 너무 큽니다.',
  'error.generic': '문제가 생겼습니다 ({code}). 다시 시도해 주세요.',

  'timeline.homeTitle': '홈',
  'timeline.exploreTitle': '메인 페이지',
  'timeline.empty': '아직 게시물이 없습니다.',
  'timeline.homeEmpty': '아직 게시물이 없습니다. 다른 사람을 팔로우하거나 첫 게시물을 써 보세요.',
  'timeline.loadMore': '더 보기',
  'timeline.end': '모든 게시물을 봤습니다.',
  'timeline.retry': '다시 시도',
  'timeline.signInPrompt': '로그인하면 팔로우하고 게시물을 쓸 수 있습니다.',

  'post.by': '{name} 님의 게시물',
  'post.like': '좋아요',
  'post.unlike': '좋아요 취소',
  'post.likes': '좋아요 {count}개',
  'post.photo': '사진 {count}장 중 {index}번째',
  'post.video': '동영상',
  'post.audio': '오디오',
  'post.processing': '처리 중…',
  'post.locked': '유료 게시물: {price}코인 (구매 기능은 아직 없습니다)',
  'post.followersOnly': '팔로워 공개',

  'compose.label': '게시물 쓰기',
  'compose.placeholder': '무슨 일이 있나요?',
  'compose.count': '{count} / {max}',
  'compose.tooLong': '{over}자 초과',
  'compose.addPhotos': '사진 추가',
  'compose.photosLimit': '사진은 {max}장까지.',
  'compose.removePhoto': '{index}번째 사진 빼기',
  'compose.post': '게시',
  'compose.posting': '게시하는 중…',
  'compose.uploading': '사진을 올리는 중…',
  'compose.posted': '게시했습니다.',

  'settings.title': '설정',
  'settings.account': '계정',
  'settings.more': '비밀번호 변경, 연결된 로그인 수단, 계정 삭제는 아직 만들어지지 않았습니다.',

  // — profiles, likes, compose options and settings —


  // — paid posts, wallet and library —


  // — live events, notifications and push —


  // — memos, recordings and voice posts —
};
